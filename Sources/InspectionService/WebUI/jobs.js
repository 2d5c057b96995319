// A job's progress bar and line, fed by its event stream until its end state (fit, evaluate, synthesize jobs of
// every page). The ETA is of the current stage, from that stage's own rate.
import { el, status } from './dom.js';

export class JobProgress {
  constructor(api, signal, idPrefix) {
    this.api = api;
    this.signal = signal;
    this.bar = el('progress', { id: `${idPrefix}progress`, max: 1, value: 0, hidden: true });
    this.line = el('p', { id: `${idPrefix}line`, class: 'muted', 'aria-live': 'polite' });
  }

  async follow(job, what) {
    this.bar.hidden = false;
    this.bar.value = 0;
    delete this.line.dataset.state;
    this.line.textContent = `${what}: job ${job.id} queued`;
    let stage = null, stageStart = Date.now();
    for await (const message of this.api.events(`/api/v1/jobs/${job.id}/events`, this.signal)) {
      const j = JSON.parse(message.data);
      let eta = '';
      if (j.total > 0) {
        this.bar.max = j.total;
        this.bar.value = j.done;
        if (j.stage !== stage) { stage = j.stage; stageStart = Date.now(); }
        const elapsed = (Date.now() - stageStart) / 1000;
        if (j.done > 0 && j.done < j.total) eta = `, about ${Math.ceil(elapsed / j.done * (j.total - j.done))} s left`;
      }
      this.line.textContent = `${what}: job ${j.id} ${j.state}${j.stage ? ` (${j.stage} ${j.done}/${j.total}${eta})` : ''}`;
      if (['succeeded', 'failed', 'cancelled'].includes(j.state)) {
        if (j.state === 'failed') status(`${what} failed: ${j.error}`, true); else status(`${what} ${j.state}`);
        this.line.dataset.state = j.state;
        return j;
      }
    }
    return null;
  }
}
