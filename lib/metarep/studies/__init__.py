"""Studies of the book's results chapters: computations and figures, one module per chapter."""
