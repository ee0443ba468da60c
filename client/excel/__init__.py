"""Excel in and out (no Qt): export a form's records to .xlsx (forms.safe_workbook), import .xlsx or .json.

    export_records(ctx, form_id, out_path, period=None, statuses=None) -> number of records
    import_file(ctx, form_id, path) -> ImportResult   (all or nothing; ImportFailed names row, field, problem)

The teacher roster is the form `teachers` and goes in and out the same way. The workbook layout (hidden names
row, one sheet per repeat group, the hidden `_meta` sheet) is described in client.excel.layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from client.excel.export import export_records
from client.excel.layout import ExcelError, ImportFailed, RowProblem

if TYPE_CHECKING:
    from client.excel.importer import ImportResult, import_file


def __getattr__(name: str) -> Any:
    """The import side (and openpyxl, which reads workbooks) is loaded when first asked for: an export
    writes without it."""
    if name in ("ImportResult", "import_file"):
        from client.excel import importer

        return getattr(importer, name)
    raise AttributeError(name)


__all__ = [
    "ExcelError",
    "ImportFailed",
    "ImportResult",
    "RowProblem",
    "export_records",
    "import_file",
]
