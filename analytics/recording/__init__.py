"""Recording: what the proxy hands over becomes rows, written behind the response, priced."""
