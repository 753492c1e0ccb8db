"""URL routes for everything Django serves (/v1/ never reaches this resolver)."""

from django.contrib import admin
from django.urls import path, re_path

from ccflare_site.api import api, not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", api.urls),
    # After the API's own routes: anything else under /api/ is a JSON 404.
    re_path(r"^api/(?P<path>.*)$", not_found),
]
