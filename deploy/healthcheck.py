"""The container's HEALTHCHECK: healthy when /health answers at all (200, or 503 = no account can
serve right now, which a restart would not fix); unhealthy on no answer or any other status."""

import os
import sys
import urllib.error
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health"
try:
    status = urllib.request.urlopen(url, timeout=4).status
except urllib.error.HTTPError as error:
    status = error.code
except OSError as error:
    sys.exit(f"unhealthy: {url}: {error}")
sys.exit(0 if status in (200, 503) else f"unhealthy: {url} answered {status}")
