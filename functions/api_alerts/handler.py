"""Lambda entry point for /api/v1/alerts/*: Alertmanager's webhook, alerts and their
integrations, in the shared app factory. A firing alert opens a case and starts its
investigation on Step Functions.

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.alerts.api import router
from faultmaven.app import create_app
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router])
handler = asgi_handler(app)
