"""Looking after the repository itself: init, add-site and remove-site, push, check."""
