/**
 * The composition root's adapters: the one file in src/ that imports adapters/ (the rule
 * src-not-to-adapters in .dependency-cruiser.cjs names it). The storage and runtime choosers
 * live in adapters/; the CLI's commands and `start` take a Storage and a Runtime from here and
 * hand them on, so the member and everything under it see only those interfaces.
 */
export { embeddedKind, openStorage, runningEmbeddedDatabaseUrl, type OpenPurpose } from "../../adapters/storage/index.ts";
export { detectRuntime } from "../../adapters/runtime/index.ts";
