"""Persistence of knowledge documents and their shares: every SQL statement and ORM
session call of the knowledge domain. The services open the transaction and decide; other
domains' tables are reached through their `queries` modules, never from here."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from faultmaven.core.vectors import Scope
from faultmaven.db.queries import LIKE_ESCAPE, contains_pattern, page_of
from faultmaven.db.tables import KnowledgeDocument, KnowledgeShare
from faultmaven.knowledge.access import DocumentFacts, Grant, grants
from faultmaven.knowledge.models import DocumentStatus, GranteeType, Visibility
from faultmaven.organizations.models import Scopes


def get(
    session: Session, document_id: str, *, for_update: bool = False
) -> KnowledgeDocument | None:
    query = select(KnowledgeDocument).where(KnowledgeDocument.document_id == document_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def documents_by_id(
    session: Session, document_ids: Collection[str]
) -> dict[str, KnowledgeDocument]:
    if not document_ids:
        return {}
    query = select(KnowledgeDocument).where(KnowledgeDocument.document_id.in_(document_ids))
    return {d.document_id: d for d in session.scalars(query)}


def indexable_ids(session: Session) -> list[str]:
    """Every document with text to index (a pending upload has none yet)."""
    return list(
        session.scalars(
            select(KnowledgeDocument.document_id).where(
                KnowledgeDocument.status != DocumentStatus.PENDING.value
            )
        )
    )


def add_document(session: Session, document: KnowledgeDocument) -> None:
    """Insert now, so the queries that follow in the transaction see the row."""
    session.add(document)
    session.flush()


def flush(session: Session) -> None:
    """Send the pending changes now: a constraint fails inside the caller's block, and
    the queries that follow see them."""
    session.flush()


def global_by_slug(session: Session, slug: str) -> KnowledgeDocument | None:
    return session.scalars(
        select(KnowledgeDocument).where(
            KnowledgeDocument.scope == Scope.GLOBAL.value, KnowledgeDocument.slug == slug
        )
    ).first()


def shares_of(session: Session, document_id: str) -> list[KnowledgeShare]:
    return list(
        session.scalars(
            select(KnowledgeShare)
            .where(KnowledgeShare.document_id == document_id)
            .order_by(KnowledgeShare.created_at, KnowledgeShare.share_id)
        )
    )


def share(session: Session, share_id: str) -> KnowledgeShare | None:
    return session.get(KnowledgeShare, share_id)


def add_share(session: Session, share: KnowledgeShare) -> None:
    session.add(share)
    session.flush()


def delete_share(session: Session, share: KnowledgeShare) -> None:
    session.delete(share)
    session.flush()


def grants_of(session: Session, document_ids: Iterable[str]) -> dict[str, tuple[Grant, ...]]:
    ids = list(document_ids)
    found: dict[str, list[tuple[str, str, str]]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(
                KnowledgeShare.document_id,
                KnowledgeShare.grantee_type,
                KnowledgeShare.grantee_id,
                KnowledgeShare.permission,
            ).where(KnowledgeShare.document_id.in_(ids))
        )
        for document_id, kind, grantee, permission in rows:
            found[document_id].append((kind, grantee, permission))
    return {document_id: grants(rows) for document_id, rows in found.items()}


def facts(document: KnowledgeDocument, document_grants: tuple[Grant, ...]) -> DocumentFacts:
    return DocumentFacts(
        scope=Scope(document.scope),
        owner_id=document.owner_id,
        visibility=Visibility(document.visibility),
        team_id=document.team_id,
        org_id=document.org_id,
        grants=document_grants,
    )


def visible_documents_query(
    user_id: str, scopes: Scopes, relation: str
) -> Select[KnowledgeDocument]:
    """User documents the caller can read, narrowed by `relation`: owned, shared with
    them (directly, through a team or an organization, or by visibility), or both.
    The same rules as `access.access_of`, as SQL."""
    granted_to_me = [
        and_(
            KnowledgeShare.grantee_type == GranteeType.USER.value,
            KnowledgeShare.grantee_id == user_id,
        )
    ]
    if scopes.team_ids:
        granted_to_me.append(
            and_(
                KnowledgeShare.grantee_type == GranteeType.TEAM.value,
                KnowledgeShare.grantee_id.in_(scopes.team_ids),
            )
        )
    if scopes.org_ids:
        granted_to_me.append(
            and_(
                KnowledgeShare.grantee_type == GranteeType.ORGANIZATION.value,
                KnowledgeShare.grantee_id.in_(scopes.org_ids),
            )
        )
    shared_ids = select(KnowledgeShare.document_id).where(or_(*granted_to_me))
    via_team = (
        and_(
            KnowledgeDocument.visibility == Visibility.TEAM.value,
            KnowledgeDocument.team_id.in_(scopes.team_ids),
        )
        if scopes.team_ids
        else false()
    )
    via_org = (
        and_(
            KnowledgeDocument.visibility == Visibility.ORGANIZATION.value,
            KnowledgeDocument.org_id.in_(scopes.org_ids),
        )
        if scopes.org_ids
        else false()
    )
    owned = KnowledgeDocument.owner_id == user_id
    shared = and_(
        KnowledgeDocument.visibility != Visibility.PRIVATE.value,
        or_(KnowledgeDocument.document_id.in_(shared_ids), via_team, via_org),
    )
    condition = {"owned": owned, "shared": and_(~owned, shared)}.get(relation, or_(owned, shared))
    return select(KnowledgeDocument).where(KnowledgeDocument.scope == Scope.USER.value, condition)


def visible_documents(
    session: Session,
    user_id: str,
    scopes: Scopes,
    *,
    relation: str,
    text: str | None,
    tag: str | None,
    limit: int,
    offset: int,
) -> tuple[list[KnowledgeDocument], int]:
    """One page of `visible_documents_query`, newest first, and its total."""
    query = _narrow(visible_documents_query(user_id, scopes, relation), text, tag)
    query = query.order_by(KnowledgeDocument.updated_at.desc(), KnowledgeDocument.document_id)
    return page_of(session, query, limit=limit, offset=offset)


def global_documents(
    session: Session, *, text: str | None, tag: str | None, limit: int, offset: int
) -> tuple[list[KnowledgeDocument], int]:
    """One page of the global KB by title, and its total."""
    query = select(KnowledgeDocument).where(KnowledgeDocument.scope == Scope.GLOBAL.value)
    query = _narrow(query, text, tag).order_by(
        KnowledgeDocument.title, KnowledgeDocument.document_id
    )
    return page_of(session, query, limit=limit, offset=offset)


def _narrow(
    query: Select[KnowledgeDocument], text: str | None, tag: str | None
) -> Select[KnowledgeDocument]:
    if text:
        pattern = contains_pattern(text)
        query = query.where(
            or_(
                KnowledgeDocument.title.ilike(pattern, escape=LIKE_ESCAPE),
                KnowledgeDocument.content.ilike(pattern, escape=LIKE_ESCAPE),
            )
        )
    if tag:
        query = query.where(KnowledgeDocument.tags.contains([tag.lower()]))
    return query


def owned_documents(
    session: Session, user_id: str, *, for_update: bool = False
) -> list[KnowledgeDocument]:
    """Every user document `user_id` owns, oldest first."""
    query = (
        select(KnowledgeDocument)
        .where(KnowledgeDocument.scope == Scope.USER.value, KnowledgeDocument.owner_id == user_id)
        .order_by(KnowledgeDocument.created_at, KnowledgeDocument.document_id)
    )
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def shared_ids(session: Session, document_ids: list[str]) -> set[str]:
    """Which of these documents have at least one share."""
    if not document_ids:
        return set()
    return set(
        session.scalars(
            select(KnowledgeShare.document_id).where(KnowledgeShare.document_id.in_(document_ids))
        )
    )


def remove_user_shares(session: Session, document_id: str, user_id: str) -> None:
    """Shares of a document to `user_id` (who is becoming its owner)."""
    for share in session.scalars(
        select(KnowledgeShare).where(
            KnowledgeShare.document_id == document_id,
            KnowledgeShare.grantee_type == GranteeType.USER.value,
            KnowledgeShare.grantee_id == user_id,
        )
    ):
        session.delete(share)


def remove_document(session: Session, document: KnowledgeDocument) -> None:
    """Delete the row; its shares go with it (ON DELETE CASCADE)."""
    session.delete(document)
