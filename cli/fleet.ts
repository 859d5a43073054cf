/** Fleet-wide reads, shared with the dashboard: functions/adapters/fleet.ts. */
export * from "#adapters/fleet.ts";
