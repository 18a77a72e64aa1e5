/**
 * THE polling helper: retries an async assertion until it passes, then returns its value; on timeout,
 * throws the last assertion error so the failure says what was still wrong.
 */
export async function eventually<T>(
  assertion: () => Promise<T> | T,
  { timeoutMs = 15_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) throw lastError;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
