"""The Lambda layers, built without Docker by `infra/assets/build.py` (`make assets`):
`core` (web, database, cache, AWS, the secret scanner redaction uses), `preprocessing`
(the log miner, which only the pipeline pays for) and `faultmaven` (our package, compiled
for 3.12).

Each function stack makes its own layer versions from the same assets (uploaded once):
a layer version ARN changes on every code change, and a cross-stack export of it would
block the next deploy."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

LAYER_NAMES = ("core", "preprocessing", "faultmaven")


class AssetsNotBuiltError(FileNotFoundError):
    """The layer directories are missing: the message says how to build them."""


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, assets_dir: Path) -> None:
        super().__init__(scope, construct_id)
        manifest_path = assets_dir / "manifest.json"
        if not manifest_path.is_file():
            raise AssetsNotBuiltError(
                f"{manifest_path} is missing: build the Lambda layers first (`make assets`)"
            )
        self.by_name: dict[str, lambda_.LayerVersion] = {}
        for name in LAYER_NAMES:
            directory = assets_dir / "layers" / name
            if not (directory / "python").is_dir():
                raise AssetsNotBuiltError(f"{directory}/python is missing: run `make assets`")
            self.by_name[name] = lambda_.LayerVersion(
                self,
                name.capitalize(),
                code=lambda_.Code.from_asset(str(directory)),
                compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
                compatible_architectures=[lambda_.Architecture.ARM_64],
                description=f"FaultMaven {name} layer (python3.12, arm64)",
            )

    @property
    def service(self) -> list[lambda_.ILayerVersion]:
        """What every function imports: dependencies and the faultmaven package."""
        return [self.by_name["core"], self.by_name["faultmaven"]]

    @property
    def pipeline(self) -> list[lambda_.ILayerVersion]:
        """The preprocessing steps also need the log miner."""
        return [self.by_name["core"], self.by_name["preprocessing"], self.by_name["faultmaven"]]
