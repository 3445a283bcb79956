"""The 3D viewer shipped with the report (package data: viewer.js)."""
