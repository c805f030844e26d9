import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files first, so two workers finish together. Vitest orders by the durations it
 * cached on this machine, and without a cache (CI's fresh clone) by file size, which would start
 * the 100-second encrypted-cohort file near the end. Listed: measured slowest first.
 */
const LONGEST = ['genomics/encrypted-scores', 'datasets', 'genomics/match-properties', 'robustness', 'page', 'cli'].map((f) => `/test/${f}.test.ts`);

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((suffix) => f.moduleId.endsWith(suffix));
      return i < 0 ? LONGEST.length : i;
    };
    const group = (f: TestSpecification) => f.project.config.sequence.groupOrder;
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
  }
}
