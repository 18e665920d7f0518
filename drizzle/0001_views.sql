-- Views for the questions ops ask with SQL. Settings are read live, so changing
-- member_timeout_seconds in the settings table changes what "alive" means at once.
CREATE VIEW "queue_by_domain" AS
SELECT r.state,
       r.domain,
       count(*)::int AS recipients,
       count(DISTINCT r.message_id)::int AS messages,
       min(r.queued_at) AS oldest_queued_at,
       now() - min(r.queued_at) AS oldest_age,
       min(r.next_attempt_at) AS next_attempt_at
FROM "recipients" r
WHERE r.state IN ('queued', 'held')
GROUP BY r.state, r.domain;
--> statement-breakpoint
CREATE VIEW "queue_summary" AS
SELECT r.state,
       count(*)::int AS recipients,
       min(r.queued_at) AS oldest_queued_at,
       now() - min(r.queued_at) AS oldest_age
FROM "recipients" r
WHERE r.state IN ('queued', 'held')
GROUP BY r.state;
--> statement-breakpoint
CREATE VIEW "live_members" AS
SELECT m.name, m.roles, m.submit_mode, m.smtp_endpoint, m.http_url, m.hostname, m.pid,
       m.started_at, m.heartbeat_at, now() - m.heartbeat_at AS heartbeat_age
FROM "members" m
WHERE m.heartbeat_at > now() - make_interval(secs => coalesce(
  (SELECT (s.value #>> '{}')::double precision FROM "settings" s WHERE s.key = 'member_timeout_seconds'),
  30));
