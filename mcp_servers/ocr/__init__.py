"""The OCR MCP server: text, lines and boxes from images and PDFs, and invoice fields from them."""
