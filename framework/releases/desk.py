"""The scheduler's side of releases: ``POST /v1/releases`` pins the artifact, records the release
and changes the app; the end of the release's deployment sets its result.

One release, one record, whichever scheduler leads:

1. the leader (a standby forwards the request) resolves the image's tag to its digest
   (``digests.py``): a tag the registry does not know is refused before anything changes;
2. it records the release (``deploying``, with the deployment id it is about to start), fenced by
   its leader epoch, then submits the app change with that deployment id;
3. when a deployment ends, the leader loop sets the result of the release that started it
   (:meth:`ReleaseDesk.deployment_ended`); a new leader settles the releases whose deployment
   ended, or never started, while no leader was looking (:meth:`ReleaseDesk.settle`).

A failover in the middle of a deploy therefore leaves one release, whose result is its
deployment's end under the next leader.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial

from ..engine.app_records import DeploymentRecord
from ..engine.messages import PutApp
from ..errors import ConflictError, NotFoundError, PluginError, StoreError, ValidationError
from ..runtime.backend import Backend
from ..spec.app import AppSpec
from ..store.base import ReleaseStore
from ..timestamps import iso
from .digests import RegistryResolver
from .images import parse_image
from .records import DEPLOYING, Release, ended, record

log = logging.getLogger(__name__)
#: What an app change refuses before it changes anything: the release is then removed again.
REFUSALS = (ValidationError, ConflictError, NotFoundError, PluginError)


@dataclass(frozen=True)
class ReleaseRequest:
    """``POST /v1/releases``: deploy ``spec`` (the app as the environment runs it, its image tagged
    ``version``) as a release of ``service`` in ``environment``."""

    service: str
    environment: str
    version: str
    spec: AppSpec
    digest: str | None = None          # run this digest (a promotion or a rollback) instead of resolving
    force: bool = False                   # supersede a deployment under way
    forced: bool = False                  # the promotion rule was overridden
    promoted_from: str | None = None
    rollback: bool = False
    id: str | None = None              # the client's id for the release: a retry finds the first attempt's


class ReleaseDesk:
    """Records releases and follows them to their end (see the module docstring)."""

    def __init__(self, backend: Backend, store: ReleaseStore, resolver: RegistryResolver,
                 token_names: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time):
        self.backend, self.store, self.resolver = backend, store, resolver
        self.token_names = dict(token_names or {})
        self.clock = clock
        self._where: dict[str, tuple[str, str]] = {}   # deployment id -> (service, environment)
        self._releasing = threading.Lock()              # one release at a time (a retry waits for its first attempt)
        self._settled = False   # True once settle() indexed every release under way: other deployments are no release's

    def who(self, token: str | None) -> str:
        """The name of the API token (``anonymous`` without one)."""
        if not token:
            return "anonymous"
        return self.token_names.get(token, "unnamed token")

    # --- recording ----------------------------------------------------------------------------

    def release(self, req: ReleaseRequest, who: str) -> Release:
        """Pin, record and start one release; what the app change refuses removes the record again.
        A request whose ``id`` is recorded already (a client's retry) gets that release, unchanged."""
        with self.backend.reading():
            pass  # NotLeaderError on a standby: the API forwards the request to the leader
        with self._releasing:
            if req.id is not None:
                known = next((r for r in self.store.history(req.service, req.environment) if r.id == req.id), None)
                if known is not None:
                    return known
            return self._release(req, who)

    def _release(self, req: ReleaseRequest, who: str) -> Release:
        spec, image, digest, pinned, seconds = self._pin(req)
        deployment_id = str(uuid.uuid4())
        release = Release(id=req.id or str(uuid.uuid4()), service=req.service, environment=req.environment, version=req.version,
                          app_id=spec.id, deployment_id=deployment_id, at=self.clock(), who=who, image=image,
                          digest=digest, pinned=pinned, fetch=tuple(f.uri for f in spec.fetch), forced=req.forced,
                          promoted_from=req.promoted_from, rollback=req.rollback, resolve_seconds=seconds)
        self._where[deployment_id] = (req.service, req.environment)
        self.store.update(req.service, req.environment, lambda h: record(h, release))
        try:
            self.backend.submit(PutApp(spec, deployment_id=deployment_id, force=req.force))
        except REFUSALS:
            self.store.update(req.service, req.environment, lambda h: [r for r in h if r.id != release.id])
            raise
        with self.backend.reading() as view:
            app = view.find_app(spec.id)
            app_version = iso(app.version) if app is not None else None
            try:
                deployment: DeploymentRecord | None = view.deployment(deployment_id)
            except NotFoundError:
                deployment = None  # the change changed nothing: no deployment, nothing to wait for

        def started(history: list[Release]) -> list[Release]:
            out = [replace(r, app_version=app_version) if r.id == release.id else r for r in history]
            if deployment is None:
                out = ended(out, deployment_id, "succeeded", (), self.clock())
            return out
        history = self.store.update(req.service, req.environment, started)
        return next((r for r in history if r.id == release.id), release)

    def _pin(self, req: ReleaseRequest) -> tuple[AppSpec, str | None, str | None, bool, float | None]:
        """(the app to run, its image, the digest, pinned?, seconds spent asking the registry)."""
        spec = req.spec
        if spec.image is None:
            return spec, None, None, False, None
        ref = parse_image(spec.image)
        seconds = None
        if req.digest is not None:
            digest: str = req.digest
        elif ref.digest is not None:
            digest = ref.digest
        elif spec.pin_digest is False:
            return spec, spec.image, None, False, None
        else:
            resolved = self.resolver.resolve(ref)
            digest, seconds = resolved.digest, resolved.seconds
        image = ref.pinned(digest)
        data = spec.to_json()
        data["container"]["docker"]["image"] = image
        return AppSpec.model_validate(data), image, digest, True, seconds

    # --- results ------------------------------------------------------------------------------

    def deployment_ended(self, deployment: DeploymentRecord) -> None:
        """The leader loop saw ``deployment`` end: set the result of the release it belongs to."""
        where = self._where.pop(deployment.id, None)
        try:
            if where is None and not self._settled:  # the index may be incomplete: look for it
                where = next(((s, e) for (s, e), h in self.store.histories().items()
                              if any(r.deployment_id == deployment.id for r in h)), None)
            if where is not None:
                self.store.update(*where, lambda h: self._ended(h, deployment))
        except StoreError as exc:
            log.warning("cannot record the end of deployment %s on its release: %s; the next leader will",
                        deployment.id, exc)

    def _ended(self, history: list[Release], deployment: DeploymentRecord) -> list[Release] | None:
        if not any(r.deployment_id == deployment.id and not r.ended for r in history):
            return None
        return ended(history, deployment.id, deployment.status, deployment.failures,
                     deployment.ended_at or self.clock())

    def _never_started(self, history: list[Release], deployment_id: str) -> list[Release]:
        return ended(history, deployment_id, "failed", ("the scheduler stopped before the deployment started",),
                     self.clock())

    def settle(self, deployments: Mapping[str, DeploymentRecord]) -> None:
        """A new leader, before it serves: end every release still ``deploying`` whose deployment
        ended meanwhile, or was never started (the scheduler stopped in between); index the ones
        still under way, so that the end of any other deployment costs no ZooKeeper read."""
        self._settled = False
        for (service, environment), history in self.store.histories().items():
            for r in history:
                if r.result != DEPLOYING:
                    continue
                d = deployments.get(r.deployment_id)
                if d is None:
                    self.store.update(service, environment, partial(self._never_started, deployment_id=r.deployment_id))
                elif d.ended:
                    self.store.update(service, environment, partial(self._ended, deployment=d))
                else:
                    self._where[d.id] = (service, environment)
        self._settled = True

    def histories(self, service: str | None = None, environment: str | None = None
                  ) -> dict[tuple[str, str], list[Release]]:
        """The releases (oldest first) of every service and environment matching the filters."""
        if service is not None and environment is not None:
            history = self.store.history(service, environment)
            return {(service, environment): history} if history else {}
        return {k: h for k, h in self.store.histories().items()
                if (service is None or k[0] == service) and (environment is None or k[1] == environment)}
