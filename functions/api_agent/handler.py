"""Lambda entry point for the agent's chat turns (POST /api/v1/cases/{case_id}/query,
POST /api/v1/agent/chat/{case_id}), GET /api/v1/agent/health, and the copilot's
POST /compat/faultmaven/api/v1/cases/{case_id}/turns with its job poll.

The only API function that calls the language model on a request, so a SnapStart init
also imports the provider's SDK and builds its client (`language_model=True`): ≈ 2 s of
`anthropic` import is then in the snapshot instead of the first turn after a restore.
Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.agent.api import router
from faultmaven.app import create_app
from faultmaven.compat.turns_api import router as compat_turns
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router, compat_turns])
handler = asgi_handler(app, language_model=True)
