/** Why the backend refuses writes right now. */
export interface MaintenanceWindow {
  /** Shown to clients, e.g. in the token endpoint's refusal of push scopes. */
  readonly reason: string;
  /** The garbage collection job that holds the window. */
  readonly jobId: string;
  readonly since: Date;
}

/**
 * Whether the registry backend is in a read-only maintenance window, and why. The window opens
 * before the registry restarts read-only and closes only once it serves writes again, so anything
 * that hands out write access (the token endpoint) can refuse it for the whole window instead of
 * letting clients run into the registry's bare 405.
 */
export class BackendMaintenance {
  private current: MaintenanceWindow | null = null;

  /** The open window, or null while the backend takes writes. */
  get window(): MaintenanceWindow | null {
    return this.current;
  }

  get readOnly(): boolean {
    return this.current !== null;
  }

  /** The message for a refused write, e.g. `registry in maintenance: garbage collection`; null when writable. */
  get refusal(): string | null {
    return this.current && `registry in maintenance: ${this.current.reason}`;
  }

  begin(window: Omit<MaintenanceWindow, 'since'>): void {
    this.current = { ...window, since: new Date() };
  }

  end(): void {
    this.current = null;
  }
}
