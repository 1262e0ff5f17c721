from django.contrib import admin

from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.models import ApiToken

# /admin/login/ counts and refuses failed attempts like the site's sign-in page.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "prefix", "created", "last_used")
    search_fields = ("name", "owner__username", "prefix")
    readonly_fields = ("prefix", "key_digest", "created", "last_used")
