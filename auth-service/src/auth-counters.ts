/** Lifetime outcomes of logins and token checks, shown in /stats. */
export class AuthCounters {
  loginsSucceeded = 0;
  loginsFailed = 0;
  /** Logins answered 503 because user-service could not be asked. */
  loginsUnavailable = 0;
  tokensVerified = 0;
  tokensRejected = 0;

  snapshot() {
    return {
      logins: { succeeded: this.loginsSucceeded, failed: this.loginsFailed, unavailable: this.loginsUnavailable },
      tokens: { verified: this.tokensVerified, rejected: this.tokensRejected },
    };
  }
}
