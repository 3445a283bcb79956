"""Analysis of structures: space groups (spglib) and structure comparison (pymatgen)."""
