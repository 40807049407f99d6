"""Studies of the book's chapters: computations and figures, one module per chapter."""
