from django.contrib import admin

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "prefix", "created", "last_used")
    search_fields = ("name", "owner__username", "prefix")
    readonly_fields = ("prefix", "key_digest", "created", "last_used")
