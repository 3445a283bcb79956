"""Reading retrieved files, with the CalcJob's exit codes for missing or unreadable ones."""

from __future__ import annotations

import io
import json

from aiida.engine import ExitCode
from aiida.parsers import Parser


class ParsingFailed(Exception):
    def __init__(self, exit_code: ExitCode):
        super().__init__(exit_code.message)
        self.exit_code = exit_code


class ScriptParser(Parser):
    def read_bytes(self, name: str) -> bytes:
        try:
            return self.retrieved.base.repository.get_object_content(name, mode="rb")
        except (FileNotFoundError, OSError):
            raise ParsingFailed(self.exit_codes.ERROR_MISSING_OUTPUT.format(filename=name)) from None

    def read_json(self, name: str) -> dict:
        try:
            return json.loads(self.read_bytes(name).decode())
        except ValueError as error:
            raise ParsingFailed(self.exit_codes.ERROR_READING_OUTPUT.format(filename=name, error=error)) from None

    def read_extxyz(self, name: str) -> list:
        from ase.io import read

        text = self.read_bytes(name).decode()
        if not text.strip():
            return []
        try:
            return read(io.StringIO(text), index=":", format="extxyz")
        except Exception as error:  # ASE raises several types for a malformed file
            raise ParsingFailed(self.exit_codes.ERROR_READING_OUTPUT.format(filename=name, error=error)) from None

    def parse(self, **kwargs):
        from aiida.orm import Dict

        from ..executables import files

        try:
            if files.VERSIONS in self.retrieved.base.repository.list_object_names():
                self.out("versions", Dict(self.read_json(files.VERSIONS)))
            return self.parse_outputs()
        except ParsingFailed as failure:
            return failure.exit_code

    def parse_outputs(self):  # pragma: no cover - implemented by subclasses
        raise NotImplementedError
