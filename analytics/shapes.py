"""The JSON shape of a recorded request, as ccflare's request list gives it (docs/api.md).

Used by the API's lists and by the recorder's live events; kept out of the API's schemas
module so that recording does not load django-ninja.
"""

from analytics.models import Request


def request_json(request: Request) -> dict:
    """A finished request in the shape of ccflare's request list item (docs/api.md).

    A failed request that used no tokens has no token fields, as in ccflare (whose
    clients print a stray 0 for a zero they are given).
    """
    item = {
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
        **_token_fields(request),
        "costUsd": float(request.cost_usd) if request.cost_usd is not None else None,
        "unpriced": request.unpriced,
        "tokensPerSecond": request.output_tokens_per_second,
        "terminalState": request.terminal_state,
        "agentUsed": request.agent_used,
        # The client key's id (lists add its name as `clientKey`); live rows carry only this.
        "clientKeyId": request.client_key_id,
    }
    if request.original_model:
        item["originalModel"] = request.original_model
    return item


def _token_fields(request: Request) -> dict:
    if not request.success and not request.total_tokens:
        return {}
    return {
        "promptTokens": request.prompt_tokens,
        "completionTokens": request.completion_tokens,
        "totalTokens": request.total_tokens,
        "inputTokens": request.input_tokens,
        "cacheReadInputTokens": request.cache_read_input_tokens,
        "cacheCreationInputTokens": request.cache_creation_input_tokens,
        "outputTokens": request.output_tokens,
    }
