"""The command line (Typer only): parse, call one library function, print."""
