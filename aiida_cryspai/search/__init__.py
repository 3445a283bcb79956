"""Structure search: compositions, volumes, crystal systems, random symmetric structures, the GA."""
