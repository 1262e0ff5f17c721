"""Admin: read-only views of composites (files are changed only through the services)."""

from django.contrib import admin

from compositing.models import Composite


@admin.register(Composite)
class CompositeAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "mode", "status", "output_format", "created")
    list_filter = ("kind", "mode", "status", "output_format")
    search_fields = ("id", "owner__username", "source_name")
    date_hierarchy = "created"
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "background", "parent")
    readonly_fields = [field.name for field in Composite._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
