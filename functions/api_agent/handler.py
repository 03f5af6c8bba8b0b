"""Lambda entry point for the agent's chat turns (POST /api/v1/cases/{case_id}/query,
POST /api/v1/agent/chat/{case_id}) and GET /api/v1/agent/health.

The only API function that calls the language model on a request, so a SnapStart init
also imports the provider's SDK and builds its client (`language_model=True`): ≈ 2 s of
`anthropic` import is then in the snapshot instead of the first turn after a restore.
Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.agent.api import router
from faultmaven.app import create_app
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router])
handler = asgi_handler(app, language_model=True)
