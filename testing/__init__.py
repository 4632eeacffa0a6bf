"""What the tests share: fixture repositories, loopback servers, the command-line runner, generated fleets."""
