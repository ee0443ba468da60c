"""The update routes in the OpenAPI document (protocol revision 1.18; sync_server/updates_api.py)."""

from __future__ import annotations

from typing import Any

from sync_server.services.common import NAME_TEXT_PATTERN
from sync_server.updates import PLATFORMS, STATES

_JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ERROR}}}


def _text(limit: int, *, null: bool = False) -> dict[str, Any]:
    """Text as the device routes take it: not blank, no control character."""
    kind: Any = ["string", "null"] if null else "string"
    return {"type": kind, "minLength": 1, "maxLength": limit, "pattern": NAME_TEXT_PATTERN}


_OFFER = {
    "type": ["object", "null"],
    "required": ["version", "target", "platform"],
    "properties": {
        "version": {"type": "string"},
        "target": {"type": "string", "description": "the TUF target path"},
        "platform": {"type": "string", "enum": list(PLATFORMS)},
    },
}


def update_paths() -> dict[str, Any]:
    return {
        "/api/v1/update/check": {
            "post": {
                "operationId": "checkUpdate",
                "summary": "Report this device's update state; get the client release offered to it",
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["app_version", "platform"],
                                "properties": {
                                    "app_version": _text(50),
                                    "platform": {"type": "string", "enum": list(PLATFORMS)},
                                    "state": {"type": "string", "enum": list(STATES)},
                                    "target_version": _text(50, null=True),
                                    "failures": {"type": "integer", "minimum": 0, "maximum": 10**6},
                                    "error": _text(500, null=True),
                                    # 1.21: a failed first start's or a withdrawal's facts
                                    "tries": {
                                        "type": ["integer", "null"],
                                        "minimum": 0,
                                        "maximum": 100,
                                    },
                                    "max_tries": {
                                        "type": ["integer", "null"],
                                        "minimum": 1,
                                        "maximum": 100,
                                    },
                                    "kept_version": _text(50, null=True),
                                    "blocked_until": {
                                        "type": ["string", "null"],
                                        "format": "date-time",
                                        "maxLength": 40,
                                    },
                                    "withdrawn": {"type": ["boolean", "null"]},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The offer (null: nothing newer for this device)",
                        "content": {
                            _JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["protocol", "offer", "repository"],
                                    "properties": {
                                        "protocol": {"type": "string"},
                                        "min_client_version": {"type": ["string", "null"]},
                                        "too_old": {"type": "boolean"},
                                        "offer": _OFFER,
                                        "repository": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("Malformed report"),
                    "401": _error("No or unknown device token"),
                    "403": _error("The device was revoked"),
                    "413": _error("Larger than 64 KB"),
                    "415": _error("Unsupported Content-Encoding"),
                },
            }
        },
        "/api/v1/update/repo/{name}": {
            "get": {
                "operationId": "updateRepositoryFile",
                "summary": "A file of the signed TUF update repository (metadata/*.json, targets/...); "
                "Range requests resume a download",
                "security": [],
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {"application/octet-stream": {}, _JSON: {}},
                    },
                    "206": {
                        "description": "The requested range of the file",
                        "content": {"application/octet-stream": {}},
                    },
                    "304": {"description": "Not modified"},
                    "400": _error("A control character in the path"),
                    "404": _error("No such file"),
                    "416": _error("The range is beyond the file"),
                },
            }
        },
    }
