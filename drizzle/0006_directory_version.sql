CREATE TABLE "directory_version" (
	"singleton" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "directory_version_singleton" CHECK ("directory_version"."singleton")
);
