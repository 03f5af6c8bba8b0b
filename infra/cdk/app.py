"""The CDK app (`cdk.json` runs this): every stack of a FaultMaven deployment.

Context (`cdk.json` or `-c key=value`): `vectorStore` (opensearch | pgvector),
`snapStart` (true | false), `allowedOrigins` (comma-separated browser origins for CORS),
`assetsDir` (the built Lambda layers, `make assets`), `stackPrefix`, `logRetentionDays`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultmaven_infra.app import build_app

build_app().app.synth()
