"""Persistence of the cluster registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.db.queries import page_of
from faultmaven.db.tables import Cluster


def add(session: Session, values: dict[str, Any]) -> bool:
    """Insert the cluster; False when its name is taken (the unique index decides)."""
    inserted = session.scalar(
        insert(Cluster)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Cluster.cluster_id)
    )
    return inserted is not None


def get(session: Session, cluster_id: str) -> Cluster | None:
    return session.get(Cluster, cluster_id)


def by_name(session: Session, name: str) -> Cluster | None:
    return session.scalars(select(Cluster).where(Cluster.name == name)).first()


def page(session: Session, *, limit: int, offset: int) -> tuple[list[Any], int]:
    return page_of(session, select(Cluster).order_by(Cluster.name), limit=limit, offset=offset)


def enabled(session: Session) -> list[Cluster]:
    return list(session.scalars(select(Cluster).where(Cluster.enabled).order_by(Cluster.name)))


def clear_default(session: Session, *, keep: str) -> None:
    session.execute(
        update(Cluster)
        .where(Cluster.is_default, Cluster.cluster_id != keep)
        .values(is_default=False)
    )


def delete(session: Session, row: Cluster) -> None:
    session.delete(row)
    session.flush()
