"""An app's health and readiness checks, as Marathon's app JSON has them (Marathon's defaults).
Running them is the executor's (Mesos checks) or the scheduler's (readiness). Pure data: no I/O.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import PathProblems, Spec


class CommandCheck(Spec):
    value: str = Field(min_length=1)


class HealthCheck(Spec):
    """Marathon's health check (defaults as Marathon's)."""

    protocol: Literal["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"] = "HTTP"
    path: str | None = None
    port_index: int | None = Field(None, ge=0)
    port: int | None = Field(None, ge=0, le=65535)
    command: CommandCheck | None = None
    grace_period_seconds: float = Field(300, ge=0)
    interval_seconds: float = Field(60, gt=0)
    timeout_seconds: float = Field(20, gt=0)
    max_consecutive_failures: int = Field(3, ge=0)
    delay_seconds: float = Field(15, ge=0)
    ignore_http1xx: bool = Field(False, alias="ignoreHttp1xx")
    ip_protocol: Literal["IPv4", "IPv6"] | None = Field(None, alias="ipProtocol")

    @model_validator(mode="after")
    def _check(self) -> HealthCheck:
        if self.protocol == "COMMAND" and self.command is None:
            raise PathProblems([(("command",), "required when protocol is COMMAND")])
        if self.port_index is not None and self.port is not None:
            raise PathProblems([(("port",), "give portIndex or port, not both")])
        return self


class ReadinessCheck(Spec):
    """Marathon's readiness check: the scheduler GETs ``path`` on the task's port named
    ``portName`` every ``intervalSeconds`` until the answer's status is one of
    ``httpStatusCodesForReady``; a deployment waits for it (after the health check, if any)."""

    name: str = "readinessCheck"
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    path: str = "/"
    port_name: str = "http-api"
    interval_seconds: float = Field(30, gt=0)
    timeout_seconds: float = Field(10, gt=0)
    http_status_codes_for_ready: list[int] = Field(default_factory=lambda: [200])
    preserve_last_response: bool = False
