"""The current request id, readable from service code without passing the request around."""
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
