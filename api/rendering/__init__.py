"""Documents and pictures made from read-model data: quote PDFs, SVG charts. No I/O, no SQL."""
