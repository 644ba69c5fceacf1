"""trustspace's pages: login and logout, health probes, ANS alerts and outbox, error pages."""
