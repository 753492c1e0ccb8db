"""URL routes for everything Django serves (/v1/ never reaches this resolver).

An unknown /api/ path matches nothing here: Django's 404 becomes a JSON one in
`ccflare_site.middleware`, which no CSRF check stands in front of (a catch-all
view would be one, and answered a token's POST with an HTML 403).
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ccflare_site.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:overview"), name="home"),
    path("dashboard/agents/", include("agents.urls")),
    path("dashboard/", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("", api.urls),
]


handler400 = "ccflare_site.errors.bad_request"
handler500 = "ccflare_site.errors.server_error"
