// One glob meaning for refs, repositories and the project's push branches (the policy layer uses it too).
export { globMatches, globProblem, globToRegExp } from '../shared/glob.js';
