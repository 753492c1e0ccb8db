"""Live events: the channel group the dashboard and API streams listen to, and the publishers."""

import logging

from channels.layers import get_channel_layer

from analytics.models import Request

logger = logging.getLogger(__name__)

REQUESTS_GROUP = "requests"


def summary(request: Request) -> dict:
    """A finished request in the shape of ccflare's request list item (SPEC §6.5)."""
    return {
        "id": str(request.id),
        "timestamp": request.timestamp.isoformat(),
        "method": request.method,
        "path": request.path,
        "accountUsed": str(request.account_id) if request.account_id else None,
        "statusCode": request.status_code,
        "success": request.success,
        "errorMessage": request.error_message,
        "responseTimeMs": request.response_time_ms,
        "timeToFirstTokenMs": request.time_to_first_token_ms,
        "failoverAttempts": request.failover_attempts,
        "model": request.model,
        "promptTokens": request.prompt_tokens,
        "completionTokens": request.completion_tokens,
        "totalTokens": request.total_tokens,
        "inputTokens": request.input_tokens,
        "cacheReadInputTokens": request.cache_read_input_tokens,
        "cacheCreationInputTokens": request.cache_creation_input_tokens,
        "outputTokens": request.output_tokens,
        "costUsd": float(request.cost_usd) if request.cost_usd is not None else None,
        "unpriced": request.unpriced,
        "tokensPerSecond": request.output_tokens_per_second,
        "terminalState": request.terminal_state,
        "agentUsed": request.agent_used,
    }


async def publish_request_logged(row: dict) -> None:
    """Tell live listeners a request finished. Never raises: live views are best-effort."""
    await _publish({"type": "request.logged", "row": row})


async def publish_request_started(row: dict) -> None:
    await _publish({"type": "request.started", "row": row})


async def _publish(message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(REQUESTS_GROUP, message)
    except Exception:
        logger.exception("events.publish_failed")
