"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json; a test keeps it true to the routes).

docs/protocol.md explains the same API in prose; this document is the machine-readable contract.
"""

from __future__ import annotations

import copy
from typing import Any

from sync_server import __version__

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_ERRORS_AUTH = {
    "401": _error("No or unknown device token"),
    "403": _error("The device was revoked"),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message_zh", "message_en", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message_zh": {"type": "string"},
                    "message_en": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    },
    "EnrollRequest": {
        "type": "object",
        "required": ["enrollment_code", "device_name"],
        "properties": {
            "enrollment_code": {"type": "string", "examples": ["K7P-3QX-9ZA"]},
            "device_name": {"type": "string", "maxLength": 100},
            "app_version": {"type": "string", "maxLength": 50},
        },
    },
    "EnrollResponse": {
        "type": "object",
        "required": ["device_id", "token", "school"],
        "properties": {
            "device_id": {"type": "string", "format": "uuid"},
            "token": {"type": "string", "description": "Shown once; the server keeps its hash"},
            "school": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
        },
    },
    "FormSummary": {
        "type": "object",
        "required": ["form_id", "version", "sha256", "title_zh"],
        "properties": {
            "form_id": {"type": "string"},
            "version": {"type": "string"},
            "sha256": {"type": "string"},
            "title_zh": {"type": "string"},
            "published_at": {"type": "string", "format": "date-time"},
        },
    },
    "FormDefinition": {
        "type": "object",
        "required": ["form_id", "version", "sha256", "definition"],
        "properties": {
            "form_id": {"type": "string"},
            "version": {"type": "string"},
            "sha256": {"type": "string", "description": "sha256 of the UTF-8 definition text"},
            "title_zh": {"type": "string"},
            "definition": {"type": "string", "description": "The form as YAML"},
        },
    },
    "Change": {
        "type": "object",
        "required": ["op_id", "record_id", "form_id", "kind"],
        "properties": {
            "op_id": {"type": "string", "maxLength": 64},
            "record_id": {"type": "string", "format": "uuid"},
            "form_id": {"type": "string"},
            "form_version": {"type": "string", "description": "Required for upsert"},
            "kind": {"enum": ["upsert", "delete"]},
            "revision": {"type": ["integer", "null"], "minimum": 0},
            "base_server_revision": {"type": ["integer", "null"], "minimum": 0},
            "status": {"type": ["string", "null"]},
            "data": {"type": ["object", "null"]},
            "saved_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "PushRequest": {
        "type": "object",
        "required": ["changes"],
        "properties": {"changes": {"type": "array", "maxItems": 200, "items": _ref("Change")}},
    },
    "ServerVersion": {
        "type": "object",
        "properties": {
            "server_revision": {"type": "integer"},
            "status": {"type": "string"},
            "form_version": {"type": "string"},
            "data": {"type": "object"},
            "review_comments": {"type": "object"},
        },
    },
    "Problem": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "code": {"type": "string"},
            "message_zh": {"type": "string"},
            "message_en": {"type": "string"},
        },
    },
    "Result": {
        "type": "object",
        "required": ["op_id", "result", "record_id"],
        "properties": {
            "op_id": {"type": "string"},
            "result": {"enum": ["applied", "duplicate", "conflict", "rejected"]},
            "record_id": {"type": "string"},
            "server_revision": {"type": "integer"},
            "status": {"type": "string"},
            "server": _ref("ServerVersion"),
            "reason": {
                "enum": [
                    "invalid",
                    "missing_attachments",
                    "unknown_form",
                    "other_school",
                    "form_mismatch",
                    "locked",
                    "op_id_in_use",
                ]
            },
            "message_zh": {"type": "string"},
            "message_en": {"type": "string"},
            "problems": {"type": "array", "items": _ref("Problem")},
        },
    },
    "PushResponse": {
        "type": "object",
        "required": ["results", "cursor"],
        "properties": {
            "results": {"type": "array", "items": _ref("Result")},
            "cursor": {"type": "integer"},
        },
    },
    "PulledChange": {
        "type": "object",
        "required": ["seq", "type"],
        "properties": {
            "seq": {"type": "integer"},
            "type": {"enum": ["record", "form"]},
            "record_id": {"type": "string"},
            "form_id": {"type": "string"},
            "form_version": {"type": "string"},
            "version": {"type": "string"},
            "sha256": {"type": "string"},
            "title_zh": {"type": "string"},
            "server_revision": {"type": "integer"},
            "status": {"enum": ["received", "returned", "accepted", "deleted"]},
            "review_comments": {"type": "object"},
            "data": {"type": ["object", "null"]},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "PullResponse": {
        "type": "object",
        "required": ["changes", "cursor", "more"],
        "properties": {
            "changes": {"type": "array", "items": _ref("PulledChange")},
            "cursor": {"type": "integer"},
            "more": {"type": "boolean"},
        },
    },
    "UploadState": {
        "type": "object",
        "properties": {
            "sha256": {"type": "string"},
            "offset": {"type": "integer"},
            "size": {"type": ["integer", "null"]},
            "complete": {"type": "boolean"},
        },
    },
}

_SHA_PARAM = {
    "name": "sha256",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
_OFFSET_HEADER = {"Upload-Offset": {"schema": {"type": "integer"}}}

_PATHS: dict[str, Any] = {
    "/api/v1/enroll": {
        "post": {
            "operationId": "enroll",
            "summary": "Turn a single-use enrollment code into a device token",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": _ref("EnrollRequest")}},
            },
            "responses": {
                "201": _json(_ref("EnrollResponse"), "Enrolled"),
                "400": _error("Malformed request"),
                "401": _error("Unknown, used, replaced or expired code"),
                "429": _error("Too many wrong codes from this address; see Retry-After"),
            },
        }
    },
    "/api/v1/forms": {
        "get": {
            "operationId": "listForms",
            "summary": "The latest published version of each form",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"forms": {"type": "array", "items": _ref("FormSummary")}},
                    },
                    "The forms",
                ),
                **_ERRORS_AUTH,
            },
        }
    },
    "/api/v1/forms/{form_id}/{version}": {
        "get": {
            "operationId": "getForm",
            "summary": "One form version's definition",
            "parameters": [
                {"name": "form_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(_ref("FormDefinition"), "The definition"),
                "404": _error("No such form version"),
                **_ERRORS_AUTH,
            },
        }
    },
    "/api/v1/push": {
        "post": {
            "operationId": "push",
            "summary": "Push a batch of record changes (at most 200 and 5 MB uncompressed; gzip allowed)",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 100},
                },
                {
                    "name": "Content-Encoding",
                    "in": "header",
                    "required": False,
                    "schema": {"enum": ["gzip", "identity"]},
                },
            ],
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("PushRequest")}}},
            "responses": {
                "200": _json(_ref("PushResponse"), "A result per change"),
                "400": _error("Malformed JSON, wrong types, missing Idempotency-Key"),
                "413": _error("Too many changes or too many bytes"),
                "415": _error("Unsupported Content-Encoding"),
                "422": _error("The Idempotency-Key was used with a different body"),
                "503": _error("Busy; see Retry-After"),
                **_ERRORS_AUTH,
            },
        }
    },
    "/api/v1/pull": {
        "get": {
            "operationId": "pull",
            "summary": "This school's changes after a cursor, in seq order",
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "default": 0},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
                },
                {
                    "name": "include_own",
                    "in": "query",
                    "description": "Also the asking device's own pushed changes (to rebuild a store)",
                    "schema": {"type": "boolean", "default": False},
                },
            ],
            "responses": {
                "200": _json(_ref("PullResponse"), "A page of changes"),
                "400": _error("Bad since or limit"),
                **_ERRORS_AUTH,
            },
        }
    },
    "/api/v1/attachments/{sha256}": {
        "parameters": [_SHA_PARAM],
        "head": {
            "operationId": "attachmentState",
            "summary": "Whether the server holds the whole file (200) or how much of it (404, Upload-Offset)",
            "responses": {
                "200": {"description": "The whole file is there", "headers": _OFFSET_HEADER},
                "404": {"description": "Missing or partial", "headers": _OFFSET_HEADER},
                "400": {"description": "Not a sha256"},
                "401": {"description": "No or unknown device token"},
                "403": {"description": "The device was revoked"},
            },
        },
        "put": {
            "operationId": "uploadAttachment",
            "summary": "Append bytes at the stored offset (Content-Range: bytes start-end/total)",
            "parameters": [
                {
                    "name": "Content-Range",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "examples": ["bytes 0-65535/1048576"]},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
            "responses": {
                "200": _json(_ref("UploadState"), "Part stored; continue at offset"),
                "201": _json(_ref("UploadState"), "Complete and verified"),
                "400": _error("Bad Content-Range or body length"),
                "409": _error("start is not the stored offset (see Upload-Offset)"),
                "413": _error("Larger than 20 MB"),
                "422": _error("The bytes do not match the sha256; the partial file was dropped"),
                **_ERRORS_AUTH,
            },
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "School data sync API / 学校数据同步接口",
        "version": __version__,
        "description": "See docs/protocol.md. Every answer carries X-Sync-Server: school-sync/1.",
    },
    "servers": [{"url": "/"}],
    "security": [{"deviceToken": []}],
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"deviceToken": {"type": "http", "scheme": "bearer"}},
    },
}


def openapi_document() -> dict[str, Any]:
    return copy.deepcopy(_DOCUMENT)
