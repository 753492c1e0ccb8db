"""URL routes for everything Django serves (/v1/ never reaches this resolver)."""

from django.contrib import admin
from django.urls import path

from ccflare_site.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", api.urls),
]
