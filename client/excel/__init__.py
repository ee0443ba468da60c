"""Excel in and out (no Qt): export a form's records to .xlsx (forms.safe_workbook), import .xlsx or .json.

    export_records(ctx, form_id, out_path, period=None, statuses=None) -> number of records
    import_file(ctx, form_id, path) -> ImportResult   (all or nothing; ImportFailed names row, field, problem)

The teacher roster is the form `teachers` and goes in and out the same way. The workbook layout (hidden names
row, one sheet per repeat group, the hidden `_meta` sheet) is described in client.excel.layout.
"""

from __future__ import annotations

from client.excel.export import export_records
from client.excel.importer import ImportResult, import_file
from client.excel.layout import ExcelError, ImportFailed, RowProblem

__all__ = [
    "ExcelError",
    "ImportFailed",
    "ImportResult",
    "RowProblem",
    "export_records",
    "import_file",
]
