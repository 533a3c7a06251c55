"""Local stand-ins for the APIs the delivery sinks call (Slack, a webhook receiver, HubSpot,
Salesforce): real aiohttp servers on 127.0.0.1, implementing just the parts we use, with
switches for rate limiting (429 + Retry-After) and failures."""
