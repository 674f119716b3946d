// htm bound to the preact served beside it (node_modules/preact, pinned in package.json): JSX-like
// templates with no build step.
import { h, render, Component } from '../vendor/preact.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { render, Component };
