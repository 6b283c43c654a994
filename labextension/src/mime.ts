/**
 * Renderer of `application/vnd.open-agent.task+json` outputs (DESIGN.md §12.3): the
 * task's live timeline straight from the server (so it keeps updating, and Stop works,
 * with the kernel blocked or gone); the bundle's `text/html` when the server does not
 * know the task. Rank -20 (ahead of ipywidgets' -10), `safe: true`: Stop, Allow and
 * Deny act only on trusted outputs.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  renderHTML,
  renderImage,
  renderMarkdown,
  renderText
} from '@jupyterlab/rendermime';
import { Panel } from '@lumino/widgets';

import { OpenAgentAPI } from './api';
import { taskFeed } from './feed';
import { IRowContext } from './rowview';
import { TaskTimeline } from './timeline';

/** The MIME type `%agent` outputs carry. */
export const MIME_TYPE = 'application/vnd.open-agent.task+json';

/** Markdown and rich-output rendering from a renderer's options (no registry here). */
export function rendering(
  options: IRenderMime.IRendererOptions
): Pick<IRowContext, 'renderMarkdown' | 'renderOutput'> {
  const common = {
    sanitizer: options.sanitizer,
    resolver: options.resolver,
    linkHandler: options.linkHandler,
    latexTypesetter: options.latexTypesetter,
    translator: options.translator
  };
  return {
    renderMarkdown: (host, text) =>
      renderMarkdown({
        ...common,
        host,
        source: text,
        trusted: false,
        shouldTypeset: true,
        markdownParser: options.markdownParser ?? null
      }),
    renderOutput: (host, bundle) => renderBundle(host, bundle, common)
  };
}

/** An image (png, jpeg, gif) or else the text of a MIME bundle. */
export function renderBundle(
  host: HTMLElement,
  bundle: Record<string, any>,
  common: any
): Promise<void> {
  const data = bundle.data ?? bundle;
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    if (typeof data[mime] === 'string') {
      return renderImage({ host, mimeType: mime, source: data[mime] });
    }
  }
  const text = data['text/plain'];
  return renderText({
    ...common,
    host,
    source: Array.isArray(text) ? text.join('') : String(text ?? ''),
    mimeType: 'text/plain'
  });
}

/** One task output. */
export class TaskOutput extends Panel implements IRenderMime.IRenderer {
  private timeline: TaskTimeline | null = null;
  private api = new OpenAgentAPI();

  constructor(private options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('oa-TaskOutput');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const bundle = (model.data[MIME_TYPE] ?? {}) as Record<string, any>;
    const taskId = String(bundle.task_id ?? '');
    if (this.timeline?.taskId === taskId) {
      return;
    }
    this.timeline?.dispose();
    if (!taskId) {
      return this.fallback(model);
    }
    let missing = false;
    const timeline = new TaskTimeline({
      api: this.api,
      taskId,
      trusted: model.trusted,
      feed: taskFeed(this.api),
      ...rendering(this.options),
      onNotFound: () => {
        missing = true;
      }
    });
    this.timeline = timeline;
    this.addWidget(timeline);
    await timeline.start();
    if (missing) {
      timeline.dispose();
      this.timeline = null;
      await this.fallback(model);
    }
  }

  private async fallback(model: IRenderMime.IMimeModel): Promise<void> {
    const html = model.data['text/html'];
    const host = document.createElement('div');
    host.className = 'oa-Fallback';
    this.node.appendChild(host);
    if (typeof html === 'string') {
      await renderHTML({
        host,
        source: html,
        trusted: model.trusted,
        sanitizer: this.options.sanitizer,
        resolver: this.options.resolver,
        linkHandler: this.options.linkHandler,
        shouldTypeset: false,
        latexTypesetter: this.options.latexTypesetter,
        translator: this.options.translator
      });
    } else {
      host.textContent = String(model.data['text/plain'] ?? 'Open Agent task');
    }
  }
}

/** The renderer factory. */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  defaultRank: -20,
  createRenderer: options => new TaskOutput(options)
};

const extension: IRenderMime.IExtension = {
  id: 'open-agent-jupyterlab:task-renderer',
  description: 'Renders Open Agent task outputs live from the server.',
  rendererFactory,
  rank: -20,
  dataType: 'json'
};

export default extension;
