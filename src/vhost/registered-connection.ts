/** What the broker needs of a connection: enough to list it and to close it. */
export interface RegisteredConnection {
  readonly id: number;
  readonly vhost: { readonly name: string } | undefined;
  readonly user: { readonly name: string } | undefined;
  close(code: number, text: string): void;
  /** A resource alarm was set or cleared: block or unblock if this connection publishes. */
  alarmsChanged(): void;
}

/** Connection lifecycle for observers such as the management history; set by the runtime. */
export interface ConnectionEvents {
  /** A client sent a valid protocol header (counted in connectionsOpened). */
  opened?(conn: RegisteredConnection): void;
  /** The connection ended for any reason (closeReason says which). */
  closed?(conn: RegisteredConnection): void;
}
