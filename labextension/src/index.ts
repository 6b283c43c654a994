/**
 * Open Agent in JupyterLab: the sidebar, its launcher card and palette commands,
 * "Ask Open Agent about this cell" (cell context menu and notebook toolbar) and live
 * notebook edits. The output renderer is the mime extension in `mime.ts`.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';

import { OpenAgentAPI } from './api';
import { INotebookEdit, taskFeed } from './feed';
import { IAttachTarget } from './form';
import { renderBundle } from './mime';
import { applyEdit, cellPrompt } from './notebook';
import { IRowContext } from './rowview';
import { CAPTION, OpenAgentSidebar, SIDEBAR_ID } from './sidebar';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M12 2a4 4 0 0 1 4 4v1h1a3 3 0 0 1 3 3v7a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3v-7a3 3 0 0 1 3-3h1V6a4 4 0 0 1 4-4zm0 2a2 2 0 0 0-2 2v1h4V6a2 2 0 0 0-2-2zM9 11.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm6 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM8 16.5h8v1.5H8z"/></g></svg>`;

/** The extension's icon. */
export const agentIcon = new LabIcon({
  name: 'open-agent:icon',
  svgstr: ICON_SVG
});

export namespace CommandIDs {
  export const newTask = 'open-agent:new-task';
  export const showTasks = 'open-agent:show-tasks';
  export const askAboutCell = 'open-agent:ask-about-cell';
}

/** Markdown and outputs through the application's renderers. */
function registryRendering(
  rendermime: IRenderMimeRegistry
): Pick<IRowContext, 'renderMarkdown' | 'renderOutput'> {
  return {
    renderMarkdown: async (host, text) => {
      const renderer = rendermime.createRenderer('text/markdown');
      await renderer.renderModel(
        new MimeModel({ data: { 'text/markdown': text }, trusted: false })
      );
      host.appendChild(renderer.node);
    },
    renderOutput: (host, bundle) =>
      renderBundle(host, bundle, { sanitizer: rendermime.sanitizer })
  };
}

function attachTarget(panel: NotebookPanel | null): IAttachTarget | null {
  if (!panel) {
    return null;
  }
  return {
    path: panel.context.path,
    kernelId: panel.sessionContext.session?.kernel?.id ?? null
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'open-agent-jupyterlab:plugin',
  description: 'The Open Agent sidebar, commands and live notebook edits.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [
    ICommandPalette,
    ILauncher,
    INotebookTracker,
    IDefaultFileBrowser,
    ILayoutRestorer
  ],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    notebooks: INotebookTracker | null,
    browser: IDefaultFileBrowser | null,
    restorer: ILayoutRestorer | null
  ) => {
    const api = new OpenAgentAPI(app.serviceManager.serverSettings);
    const feed = taskFeed(api);
    const sidebar = new OpenAgentSidebar({
      api,
      feed,
      ...registryRendering(rendermime),
      currentFolder: () => browser?.model.path ?? '',
      currentNotebook: () => attachTarget(notebooks?.currentWidget ?? null),
      onExport: async taskId => {
        const content = await api.exportNotebook(taskId);
        const name = `open-agent-task-${taskId.slice(0, 8)}.ipynb`;
        const path = PathExt.join(browser?.model.path ?? '', name);
        await app.serviceManager.contents.save(path, {
          type: 'notebook',
          format: 'json',
          content
        });
        await app.commands.execute('docmanager:open', { path });
      }
    });
    sidebar.title.icon = agentIcon;
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, SIDEBAR_ID);

    const reveal = () => app.shell.activateById(SIDEBAR_ID);
    app.commands.addCommand(CommandIDs.newTask, {
      label: args => (args.isLauncher ? CAPTION : 'Open Agent: New task'),
      caption: 'Describe a task for the agent',
      icon: args => (args.isLauncher ? agentIcon : undefined),
      execute: () => {
        reveal();
        sidebar.form.refreshDefaults();
        sidebar.form.text.focus();
      }
    });
    app.commands.addCommand(CommandIDs.showTasks, {
      label: 'Open Agent: Show tasks',
      execute: () => {
        reveal();
        void sidebar.list.reload();
      }
    });
    palette?.addItem({ command: CommandIDs.newTask, category: CAPTION });
    palette?.addItem({ command: CommandIDs.showTasks, category: CAPTION });
    launcher?.add({
      command: CommandIDs.newTask,
      args: { isLauncher: true },
      category: 'Other',
      rank: 1
    });

    if (notebooks) {
      addNotebookActions(app, notebooks, sidebar, reveal);
      feed.edits.add(edit => void onEdit(api, notebooks, edit));
    }
  }
};

function addNotebookActions(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  sidebar: OpenAgentSidebar,
  reveal: () => void
): void {
  app.commands.addCommand(CommandIDs.askAboutCell, {
    label: 'Ask Open Agent about this cell',
    caption:
      'Open the Open Agent sidebar with this cell (and its error) as the task',
    isEnabled: () => !!notebooks.activeCell,
    execute: () => {
      const panel = notebooks.currentWidget;
      // From the context menu: the cell that was right-clicked, else the active one.
      const hit = app.contextMenuHitTest(node =>
        node.classList.contains('jp-Cell')
      );
      const cells = panel?.content.widgets ?? [];
      const cell =
        cells.find(widget => widget.node === hit) ?? notebooks.activeCell;
      if (!panel || !cell) {
        return;
      }
      const json: any = cell.model.toJSON();
      const text = cellPrompt({
        path: panel.context.path,
        index: cells.indexOf(cell),
        id: cell.model.id,
        source: cell.model.sharedModel.getSource(),
        cellType: cell.model.type,
        outputs: json.outputs ?? []
      });
      reveal();
      sidebar.form.prefill(text, attachTarget(panel));
    }
  });
  app.contextMenu.addItem({
    command: CommandIDs.askAboutCell,
    selector: '.jp-Notebook .jp-Cell',
    rank: 0
  });
  notebooks.widgetAdded.connect((_, panel) => {
    const ask = new ToolbarButton({
      label: 'Ask Open Agent',
      icon: agentIcon,
      tooltip: 'Ask Open Agent about this cell',
      onClick: () => void app.commands.execute(CommandIDs.askAboutCell)
    });
    panel.toolbar.insertItem(10, 'open-agent-ask', ask);
  });
}

/** Apply a live edit to the open notebook it names, then tell the server. */
async function onEdit(
  api: OpenAgentAPI,
  notebooks: INotebookTracker,
  edit: INotebookEdit
): Promise<void> {
  const panel = notebooks.find(p => p.context.path === edit.path);
  if (!panel) {
    return; // not open here: the server writes it itself after its wait
  }
  try {
    const saved = await applyEdit(panel, edit);
    await api.answerEdit(edit.edit_id, saved);
  } catch (error) {
    console.warn('Open Agent: could not apply a notebook edit', error);
  }
}

export default plugin;
