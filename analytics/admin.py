"""The analytics admin: recorded requests (read-only) and the editable price table.

Saving a price reprices the requests recorded as unpriced (analytics.signals).
"""

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from analytics.models import ModelPrice, Request


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    """History is evidence: it can be browsed and filtered, never edited here."""

    list_display = (
        "timestamp",
        "method",
        "path",
        "account",
        "model",
        "status_code",
        "terminal_state",
        "total_tokens",
        "cost_usd",
        "response_time_ms",
    )
    list_filter = (
        ("account", admin.RelatedOnlyFieldListFilter),
        "model",
        "status_code",
        "terminal_state",
        "success",
        "is_stream",
        "timestamp",
    )
    date_hierarchy = "timestamp"
    search_fields = ("path", "model", "error_message")
    list_select_related = ("account",)
    show_full_result_count = False  # a COUNT(*) over a large history on every page is slow
    exclude = ("routing_trace",)
    readonly_fields = ("trace",)

    @admin.display(description="routing trace")
    def trace(self, request: Request) -> str:
        return format_html("<pre>{}</pre>", json.dumps(request.routing_trace, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Request | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Request | None = None) -> bool:
        return False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "effective_from",
        "prompt_tokens_over",
        "input_usd",
        "output_usd",
        "cache_read_usd",
        "cache_write_5m_usd",
        "cache_write_1h_usd",
        "note",
    )
    list_filter = ("effective_from",)
    search_fields = ("model", "note")
