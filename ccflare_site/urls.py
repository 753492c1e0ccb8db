"""URL routes for everything Django serves (/v1/ never reaches this resolver)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from ccflare_site.api import api, not_found

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:overview"), name="home"),
    path("dashboard/", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("", api.urls),
    # After the API's own routes: anything else under /api/ is a JSON 404.
    re_path(r"^api/(?P<path>.*)$", not_found),
]
