"""S3 behind the `ObjectStore` port."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from faultmaven.adapters.aws import client
from faultmaven.core.settings import Settings


class S3ObjectStore:
    def __init__(self, settings: Settings, bucket: str | None = None) -> None:
        self._settings = settings
        self.bucket = bucket or settings.evidence_bucket

    @property
    def _s3(self) -> Any:
        return client("s3", self._settings)

    def presign_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> dict[str, Any]:
        form: dict[str, Any] = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 0, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return form

    def presign_get(self, key: str, *, filename: str, expires_in: int) -> str:
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_in,
        )
        return url

    def put(self, key: str, body: bytes, *, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def head(self, key: str) -> int | None:
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(response["ContentLength"])

    def read(self, key: str, *, max_bytes: int) -> bytes:
        try:
            response = self._s3.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{max(0, max_bytes - 1)}"
            )
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # an empty object has no byte 0
            raise
        body: bytes = response["Body"].read(max_bytes)
        return body

    def delete(self, *keys: str) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            if batch:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})

    def delete_prefix(self, prefix: str) -> None:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [item["Key"] for item in page.get("Contents", [])]
            self.delete(*keys)
